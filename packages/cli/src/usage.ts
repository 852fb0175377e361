/** Help texts, printed on --help and after a usage error. */
export const USAGE = {
  main: `Usage: ferry <command> [options]

Commands:
  hub start               run a hub (HTTPS 443, MQTT 8883, AMQP 5671)
  hub connection-string   print a shared access policy's connection string
  hub ca                  print the path of the hub's CA certificate (created when missing)
  device create <id>      register a device and print its connection string
  device show <id>        print a device as JSON
  device list             list devices
  device delete <id>      delete a device and its queue

Run \`ferry <command> --help\` for a command's options.`,

  'hub start': `Usage: ferry hub start [options]

  --data-dir DIR      where the hub keeps its database and certificates (default ./ferry-data)
  --host NAME         a host name or IP address clients use; repeat for several (default localhost)
  --bind ADDRESS      address to listen on (default 0.0.0.0)
  --config FILE       JSON configuration file (see README "Configuration")
  --port-https N      HTTPS and WebSocket port (default 443)
  --port-mqtts N      MQTT over TLS port (default 8883)
  --port-amqps N      AMQP over TLS port (default 5671)
  --log-level LEVEL   fatal, error, warn, info (default), debug, trace or silent

Every option can also come from the environment (FERRY_DATA_DIR, FERRY_HOSTS=a,b, FERRY_BIND,
FERRY_PORTS_HTTPS, FERRY_LOG_LEVEL, FERRY_C2D_LOCK_TIMEOUT_MS, ...). Flags win over the
environment, which wins over the config file.`,

  'hub connection-string': `Usage: ferry hub connection-string [options]

  --data-dir DIR      the hub's data directory (default ./ferry-data)
  --policy NAME       iothubowner (default), service, device, registryRead or registryReadWrite
  --host NAME         HostName to put in the string (default: the hub's first host)
  --config FILE       the hub's JSON configuration file, when it sets store.path`,

  'hub ca': `Usage: ferry hub ca [options]

  --data-dir DIR      the hub's data directory (default ./ferry-data); the CA is created when missing`,

  device: `Usage: ferry device create <id> [--disabled]
       ferry device show <id>
       ferry device list [--top N]
       ferry device delete <id>

  --connection-string CS   a hub connection string with registry rights
                           (default: $FERRY_CONNECTION_STRING, else iothubowner of --data-dir)
  --data-dir DIR           data directory of a local hub (default ./ferry-data)
  --ca FILE                CA certificate to trust (default: the data directory's CA)
  --port N                 the hub's HTTPS port (default: the local hub's, else 443)`,
} as const;
