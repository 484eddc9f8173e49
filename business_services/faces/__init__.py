"""The face gallery at head office (docs/vision.md "Faces"): enrolments with the person's recorded consent,
embeddings not photos (unless configured), deletion that removes everything, every access audited."""
