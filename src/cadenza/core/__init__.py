"""Framework-free building blocks: clock, errors, pagination, the in-process bus."""
