"""A run's life: the Runner, starting and submitting as declared steps, the supervisor."""
