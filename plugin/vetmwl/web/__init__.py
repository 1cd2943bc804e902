"""Watching the worklist from a browser: the REST API, the page in Orthanc Explorer, the log of
recent C-FINDs and the metrics. Served by Orthanc's web server through the wiring."""
