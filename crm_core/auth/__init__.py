"""Identity and access: who is calling (authentication) and what they may do (policy)."""
