"""One module per device protocol: the station-file model of such a device and how to build its source."""
