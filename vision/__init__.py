"""Plate and face recognition with ONNX models (camera frames in, recognition events out)."""
