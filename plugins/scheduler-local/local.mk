# plugins/scheduler-local: see the plugin's sources.
