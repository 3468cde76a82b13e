"""The email assistant: reply drafts for customer emails, checked against the order data and the support policy."""
