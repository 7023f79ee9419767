"""Generated protobuf modules (`*_pb2.py`), compiled from ../../protos at install."""
