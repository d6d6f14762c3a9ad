# plugins/notifier: see the plugin's sources.
