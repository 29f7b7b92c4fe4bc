"""The gate before a challenge goes live: static checks, scripted runs, cheats, noise."""
