"""Board targets, synthesis and programming.

Empty until the boards issue lands; nothing here is used yet."""
