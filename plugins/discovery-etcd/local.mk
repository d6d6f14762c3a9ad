# plugins/discovery-etcd: see the plugin's sources.
