# plugins/builder: see the plugin's sources.
