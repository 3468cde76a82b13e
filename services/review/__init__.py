"""Generated drafts and the human review around them: generation, review states, chat revisions, acceptance."""
