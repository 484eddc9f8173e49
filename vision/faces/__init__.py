"""Faces at the terminal: detect (YuNet) → 5-point alignment → liveness (two MiniFASNet models) → embedding →
1:N search in the enrolled gallery (docs/vision.md "Faces").

Pure geometry lives in ``align``; each model behind its own small class; ``pipeline.FacePipeline`` puts them
together and answers ``vision.readings.FaceResult``.
"""
