"""A run's life: the store, provisioning, services, the lab, the supervisor, submit."""
