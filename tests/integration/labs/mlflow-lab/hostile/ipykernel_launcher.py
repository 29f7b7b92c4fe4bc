raise SystemExit("a workspace file replaced the kernel")
