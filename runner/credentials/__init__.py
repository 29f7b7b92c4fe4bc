"""Open Badges 3.0 credentials: content, signing, status list, linked data."""
