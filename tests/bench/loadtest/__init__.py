"""A load test that drives any homeserver through the client-server API only, so the same
run can target this server and Synapse: provisioning of a realistic population, probes of
single operations, and a steady state of long-polling clients while messages flow.

Run `python -m tests.bench.loadtest --help`; the README next to this file explains the modes.
"""
