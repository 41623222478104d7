"""Tables -> a report on disk: its markdown page, figures and tidy CSV tables. Never imports
TensorFlow."""
