"""Champion promotion: the rules, the moves under the promotion lock, validation and records."""
