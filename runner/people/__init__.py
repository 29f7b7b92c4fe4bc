"""People: accounts, invitations, reviews, the audit log, candidates, track records."""
