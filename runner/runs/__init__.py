"""A run's records and parts: the store, provisioning, the workspace, forwards, services, the
incident schedule, the prober, the lab, archives."""
