"""The worker loop (due jobs, outbox relay, heartbeats) and the job handler registry."""
