"""The content assistant: next-post suggestions, captions, hashtags and performance summaries, stored as drafts."""
