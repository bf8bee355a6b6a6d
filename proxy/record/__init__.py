"""Recorded traffic: the façade samples real requests with the legacy answer (proxy/addons/record.py), a writer
process redacts and stores them in the parity store (writer.py, storage.py), grouped by signature into cases
(shape.py); `strangler parity replay` compares a candidate against them (replay.py) and `strangler load
--from-recording` drives Locust with their observed mix. Route-table model: config.py."""
