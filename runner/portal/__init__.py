"""The portal: what the web app and the CLI ask of prodproven, in one place."""
