"""Stored results -> tables and statistics: tidy frames, paired effects, tuned arms, the regime and
trigger checks, claims, and two folders compared. Never imports TensorFlow."""
