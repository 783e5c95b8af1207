"""Push rules (spec: Push Notifications): the rule model, the server defaults, parsing what
clients send, a user's effective rule set, and evaluating an event for a room's members.

Pure: no I/O, imports only `homeserver.types` and the standard library."""
