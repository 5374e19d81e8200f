"""minibert: a small multitask BERT for the CS224N default project."""
