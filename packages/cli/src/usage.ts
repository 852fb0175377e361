/** Help texts, printed on --help and after a usage error. */

/** The options of every command that talks to a running hub (target.ts TARGET_OPTIONS). */
const TARGET = `  --connection-string CS   a hub connection string
                           (default: $FERRY_CONNECTION_STRING, else iothubowner of --data-dir)
  --data-dir DIR           data directory of a local hub (default ./ferry-data)
  --ca FILE                CA certificate to trust (default: the data directory's CA)
  --port N                 the hub's HTTPS port (default: the local hub's, else 443)`;

export const USAGE = {
  main: `Usage: ferry <group> <command> [options]      (ferry --version prints the version)

Hub
  hub start                   run a hub (HTTPS 443, MQTT 8883, AMQP 5671); Ctrl+C stops it
  hub connection-string       print a shared access policy's connection string (--policy)
  hub ca                      print the path of the hub's CA certificate (created when missing)
  hub consumer-group create|list|delete [NAME]
                              consumer groups of the Event Hubs-compatible endpoint
  hub nodes                   list the hub's live nodes (address, connections, last heartbeat)

Devices (az iot hub device-identity)
  device create <id>          register a device and print its connection string
  device connection-string <id>
                              print a device's connection string (--key secondary)
  device show <id>            print a device as JSON
  device list                 list devices
  device delete <id>          delete a device and its queue
  device import <file.jsonl>  register many devices (bulk, 100 a call, with progress)
  device cert <id>            make a development X.509 certificate (--ca FILE or --self-signed)
  ca-cert add|verify|list|delete
                              the hub's CA certificates for X.509 devices (proof of possession)

Telemetry (az iot hub monitor-events, az iot device send-d2c-message)
  monitor-events              follow device telemetry live (--device ID, --properties)
  device send-event <id> [body]
                              send telemetry as the device (--property k=v, --transport)

Direct methods (az iot hub invoke-device-method)
  method invoke <id> <name>   call a method on a connected device; prints its status and payload
                              (--payload JSON, --timeout SECONDS, --connect-timeout SECONDS)

Credentials (az iot hub generate-sas-token)
  sas-token --device <id>     print a SAS token for a device, or --policy <name> for a policy
                              (--duration SECONDS, 3600 by default)

Cloud-to-device messages (az iot device c2d-message)
  message send <id> [body]    send a message; prints its message id; --wait for its feedback
  message receive <id>        receive a message as the device; --complete, --reject or --abandon it
  message complete <id> <lockToken>
                              settle a message that receive left locked (also: reject, abandon)
  message purge <id>          delete every message queued for a device
  device receive <id>         act as the device: print each message as it arrives (Ctrl+C stops);
                              --method-status 200 also answers every direct method

Twins and queries (az iot hub device-twin, az iot hub query)
  twin show <id>              print a device's twin as JSON
  twin update-desired <id> '{"rate": 5}'
                              merge desired properties (null deletes one); --etag for If-Match
  twin update-tags <id> '{"site": "a"}'
                              merge tags
  query "SELECT * FROM devices WHERE tags.site = 'a'"
                              run a query and print every result (--page-size N)

Jobs (az iot hub job): a method, a twin patch or a C2D message for every device a query selects
  job create <jobId> --query "tags.site = 'a'" --method NAME | --tags JSON --desired JSON
  job show <jobId> [--devices]   job list [--type T] [--status S]   job cancel <jobId>
  message send-many [body] --query "tags.site = 'a'"
                              each selected device gets its own copy (a Ferry C2D job)

Feedback (az iot hub monitor-feedback)
  feedback                    take (and complete) a batch of delivery feedback; --wait, --follow
  feedback --device <id> --message-id <id>
                              show matching feedback without taking any from the queue

Run \`ferry <group> <command> --help\` for a command's options.`,

  'sas-token': `Usage: ferry sas-token --device <id> [--key primary|secondary] [--duration SECONDS]
       ferry sas-token --policy <name> [--duration SECONDS]

Prints a shared access signature token, as \`az iot hub generate-sas-token\` does: for a device
(signed with its key, read from the registry: needs RegistryRead) or for a shared access policy
(iothubowner, service, device, registryRead, registryReadWrite; signed with the policy's key,
which the hub gives to a connection string with at least that policy's rights).
  --device ID              a device's token (resource <host>/devices/ID)
  --policy NAME            a policy's token (resource <host>, skn=NAME)
  --duration SECONDS       how long the token is valid (default 3600)
  --key primary|secondary  which device key signs it (default primary)

${TARGET}`,

  'hub start': `Usage: ferry hub start [options]

  --data-dir DIR      where the hub keeps its database and certificates (default ./ferry-data)
  --host NAME         a host name or IP address clients use; repeat for several (default localhost)
  --bind ADDRESS      address to listen on (default 0.0.0.0)
  --config FILE       JSON configuration file (see README "Configuration")
  --port-https N      HTTPS and WebSocket port (default 443)
  --port-mqtts N      MQTT over TLS port (default 8883)
  --port-amqps N      AMQP over TLS port (default 5671)
  --log-level LEVEL   fatal, error, warn, info (default), debug, trace or silent
  --store-url URL     keep the hub in PostgreSQL (postgres://user@host:5432/db) instead of SQLite;
                      every node started with the same URL serves the same hub (docs/postgres.md)
  --store-schema NAME the PostgreSQL schema of this hub (default ferry)

Every option can also come from the environment (FERRY_DATA_DIR, FERRY_HOSTS=a,b, FERRY_BIND,
FERRY_PORTS_HTTPS, FERRY_LOG_LEVEL, FERRY_STORE_URL, FERRY_C2D_LOCK_TIMEOUT_MS, ...). Flags win over the
environment, which wins over the config file.`,

  'hub connection-string': `Usage: ferry hub connection-string [options]

  --data-dir DIR      the hub's data directory (default ./ferry-data)
  --policy NAME       iothubowner (default), service, device, registryRead or registryReadWrite
  --host NAME         HostName to put in the string (default: the hub's first host)
  --event-hubs        the built-in endpoint's string for @azure/event-hubs instead
                      (Endpoint=sb://<host>/;SharedAccessKeyName=...;EntityPath=<hub name>)
  --config FILE       the hub's JSON configuration file, when it sets store.path`,

  'hub ca': `Usage: ferry hub ca [options]

  --data-dir DIR      the hub's data directory (default ./ferry-data); the CA is created when missing`,

  device: `Usage: ferry device create <id> [--disabled]
       ferry device connection-string <id> [--key primary|secondary]
       ferry device show <id>
       ferry device list [--top N]
       ferry device delete <id>
       ferry device receive <id> [--transport mqtt|mqtt-ws|amqp|amqp-ws|https]
                                 [--complete | --abandon | --reject] [--count N] [--json]
                                 [--method-status N [--method-payload JSON]]
       ferry device send-event <id> [body]  (see ferry device send-event --help)
       ferry device import <file.jsonl>    (see ferry device import --help)
       ferry device cert <id>              (see ferry device cert --help)

receive connects as the device (its key is read from the registry), prints each message as it
arrives and settles it: --complete (the default), --abandon or --reject (not over MQTT, whose
only settlement is complete). It reconnects by itself; Ctrl+C stops it, or --count N messages.
With --method-status N it also answers every direct method call with status N and the JSON of
--method-payload (default null), printing each call (not over https: methods need mqtt or amqp).

  --connection-string CS   a hub connection string with registry rights
                           (default: $FERRY_CONNECTION_STRING, else iothubowner of --data-dir)
  --data-dir DIR           data directory of a local hub (default ./ferry-data)
  --ca FILE                CA certificate to trust (default: the data directory's CA)
  --port N                 the hub's HTTPS port (default: the local hub's, else 443)`,

  'device send-event': `Usage: ferry device send-event <id> [body] [options]

Sends a device-to-cloud (telemetry) message as the device (its key is read from the registry:
needs iothubowner or registryRead) and returns once the hub has it durably (MQTT PUBACK, AMQP
accepted, HTTPS 204). \`ferry monitor-events\` shows it.
  [body]                   the payload; else --body-file; else standard input when it is not a terminal
  --body-file FILE         read the payload from FILE (any bytes)
  --allow-empty            send an empty body when standard input is empty
  --transport T            mqtt (default), mqtt-ws, amqp, amqp-ws or https
  --property KEY=VALUE     application property; repeat for several (names arrive lower-case)
  --message-id ID          message id
  --correlation-id ID      correlation id
  --content-type T         content type, e.g. application/json
  --content-encoding E     content encoding, e.g. utf-8
  --count N                send the message N times (progress every 100)

${TARGET}`,

  method: `Usage: ferry method invoke <deviceId> <methodName> [--payload JSON] [--timeout SECONDS]
                          [--connect-timeout SECONDS] [--json]

Calls a direct method on a device and prints the device's status and JSON payload; exit code 1
when the status is not 2xx. Needs ServiceConnect (iothubowner or service). The device must be
connected and answering methods (\`ferry device receive <id> --method-status 200\` does that);
otherwise the hub answers DeviceNotOnline at once, unless --connect-timeout gives it time to connect.
  --payload JSON           the payload, e.g. '{"delay": 5}' (default null)
  --timeout SECONDS        how long the device has to answer, 5 to 300 (default 30)
  --connect-timeout SECONDS
                           how long to wait for the device to connect, 0 to 300 (default 0)
  --json                   print {"status": ..., "payload": ...} on one line

${TARGET}`,

  twin: `Usage: ferry twin show <id>
       ferry twin update-desired <id> <json> [--etag ETAG]
       ferry twin update-tags <id> <json> [--etag ETAG]

Prints the twin (after the update) as JSON. The JSON is merged into the twin's desired
properties or tags: objects merge, null deletes a property. --etag makes the update conditional
(If-Match): it is refused when the twin changed since that etag was read. Needs ServiceConnect.

${TARGET}`,

  query: `Usage: ferry query "<query>" [--page-size N]

Runs an IoT Hub query and prints every result as one JSON array, e.g.
  ferry query "SELECT * FROM devices WHERE tags.site = 'plant-3' AND properties.reported.fw < '2.0'"
  ferry query "SELECT properties.reported.fw AS fw, COUNT() AS n FROM devices GROUP BY properties.reported.fw"
The language is in docs/twins.md. Needs ServiceConnect or RegistryRead.

${TARGET}`,

  message: `Usage: ferry message send <deviceId> [body] [--wait [SECONDS]] [options]
       ferry message send-many [body] --query "<WHERE clause>" [--job-id ID] [--start ISO] [--max-time S] [--no-wait] [options]
       ferry message receive <deviceId> [--complete | --reject | --abandon] [--wait SECONDS] [--json]
       ferry message complete|reject|abandon <deviceId> <lockToken>
       ferry message purge <deviceId>
       ferry message dead-letters <deviceId> [--top N] [--json]
       ferry message requeue <deviceId> <sequenceNumber> | --all
       ferry message history <deviceId> <messageId> [--json]

send (as the service; needs ServiceConnect: iothubowner or service). Prints the message id.
  [body]                   the payload; else --body-file; else standard input when it is not a terminal
                           (empty standard input is refused unless --allow-empty)
  --body-file FILE         read the payload from FILE (any bytes)
  --allow-empty            send an empty body when standard input is empty
  --wait [SECONDS]         wait for this message's feedback (default 60 s) and print it; exit 1
                           unless it is Success. Asks for --ack full unless --ack says otherwise
  --ack VALUE              feedback wanted: none (default), positive, negative or full
  --message-id ID          message id (default: one the hub makes)
  --correlation-id ID      correlation id
  --content-type T         content type, e.g. application/json
  --content-encoding E     content encoding, e.g. utf-8
  --expiry ISO             absolute expiry, e.g. 2030-01-01T00:00:00Z (default: now + c2d.defaultTtl, 1 h)
  --ttl SECONDS            expiry as seconds from now (instead of --expiry)
  --property KEY=VALUE     application property; repeat for several (names arrive lower-case)

receive (as the device, with its key from the registry; needs iothubowner or registryRead).
Prints the message, then settles it as asked; without a choice it stays locked and the
commands to settle it are printed.
  --complete               done: remove it (feedback Success when asked for)
  --reject                 dead-letter it (feedback Rejected when asked for)
  --abandon                put it back in the queue for another delivery
  --wait SECONDS           ask every second until a message arrives or SECONDS pass
  --json                   print the message as JSON (body as text, or base64 when binary)

purge deletes the queue, locked messages included, and prints how many (needs ServiceConnect).

Ferry extensions (not on Azure IoT Hub; need ServiceConnect):
dead-letters lists the messages the hub keeps after they were rejected, expired, abandoned too
often or purged (docs/dead-letters.md), oldest first.
  --top N                  at most N (1 to 1000, default 100)
  --json                   print them as JSON
requeue puts a dead letter back at the tail of the queue as a new message and prints its new
sequence number; --all requeues every one, with progress, and stops when the queue is full.
history prints the timeline of a message (docs/message-history.md): when it was enqueued and by
which policy, each delivery (protocol, lock token), each abandon, how it ended and the feedback
record made; each copy (a requeued dead letter is a second one) on its own.
  --json                   print it as JSON

send-many creates a C2D job (docs/jobs.md; needs RegistryWrite: iothubowner or registryReadWrite):
every device the query selects gets its own copy, with send's options (--wait aside). It prints
the job's progress on standard error until it ends, then the job; exit 1 when a device failed.
  --query COND             a WHERE clause, e.g. "tags.site = 'plant-3'"
  --job-id ID              the job's id (default send-many-<time>)
  --start ISO              start later; --max-time SECONDS: give up on full queues after (default 3600)
  --no-wait                print the job as created and return

${TARGET}`,

  job: `Usage: ferry job create <jobId> --query "<WHERE clause>" (--method NAME [--payload JSON] [--response-timeout S] | [--tags JSON] [--desired JSON]) [--start ISO] [--max-time S] [--no-wait]
       ferry job show <jobId> [--devices]
       ferry job list [--type scheduleDeviceMethod|scheduleUpdateTwin|scheduleCloudToDeviceMessage] [--status S]
       ferry job cancel <jobId>

Jobs act on every device a twin query's WHERE clause selects (docs/jobs.md): a direct method, or a
twin patch of tags and desired properties (for C2D messages see \`ferry message send-many\`).
create prints the job's progress on standard error until it ends, then the job; exit 1 when a
device failed. show --devices adds each device's result. Needs RegistryWrite to create and cancel
(iothubowner or registryReadWrite), RegistryRead to read.

${TARGET}`,

  feedback: `Usage: ferry feedback [--wait SECONDS | --follow] [--json] [--no-complete]
       ferry feedback --device ID [--message-id ID] [--wait SECONDS | --follow] [--json]

Takes the next batch of delivery feedback (records of messages sent with --ack), prints its
records and completes it. Needs ServiceConnect (iothubowner or service). The hub batches
records (feedback.batchDelayMs, 15 s by default), so give --wait to wait for them.
  --wait SECONDS           ask every second until a batch arrives or SECONDS pass
  --follow                 stay connected and print every batch as it comes (Ctrl+C stops)
  --json                   print the batch as JSON
  --no-complete            leave the batch locked; the hub offers it again after feedback.lockDurationMs

With --device and/or --message-id it reads the hub's feedback view instead (GET /events, a Ferry
extension): the records the hub made recently (the last 100 since it started), then new ones as
they come, filtered. It takes nothing from the feedback queue, so other back ends still get every batch.
With several nodes on PostgreSQL it shows the records made by the node it connects to.
  --device ID              only this device's records
  --message-id ID          only the record of this message

${TARGET}`,
} as const;
