/** Help texts of the X.509 commands (`ferry ca-cert`, `ferry device cert|import`). */

const TARGET = `  --connection-string CS   a hub connection string (iothubowner)
                           (default: $FERRY_CONNECTION_STRING, else iothubowner of --data-dir)
  --data-dir DIR           data directory of a local hub (default ./ferry-data)
  --ca FILE                CA certificate to trust (default: the data directory's CA)
  --port N                 the hub's HTTPS port (default: the local hub's, else 443)`;

export const X509_USAGE = {
  'ca-cert': `Usage: ferry ca-cert add <name> <ca.pem> [--key FILE | --verified]
       ferry ca-cert verify <name> (--key FILE | --proof FILE)
       ferry ca-cert code <name>
       ferry ca-cert list
       ferry ca-cert show <name>
       ferry ca-cert delete <name>
       ferry ca-cert create-test-ca [basename] [--out DIR] [--cn NAME] [--force]

Devices with authentication type certificateAuthority connect with a certificate whose common
name is their device id and that chains to a VERIFIED CA certificate of the hub.
  add                upload a CA certificate (PEM). When its key is at hand (--key, or <ca>.key.pem
                     next to it) possession is proven at once; --verified skips the proof.
  verify             proof of possession: with --key the CLI gets a verification code and signs a
                     certificate for it with the CA key; with --proof, upload a certificate you made
                     (CN = the code \`ferry ca-cert code\` printed, signed by the CA).
  code               print a new verification code
  create-test-ca     write <basename>.pem and <basename>.key.pem (default test-ca), for development

${TARGET}`,

  'device cert': `Usage: ferry device cert <deviceId> --ca <ca.pem> [--ca-key FILE] [--out DIR] [--days N]
       ferry device cert <deviceId> --self-signed [--out DIR] [--days N]

Makes a device certificate for development (what IoT Hub's tutorials do with openssl): writes
<deviceId>.pem and <deviceId>.key.pem and prints the thumbprints. Nothing is sent to the hub.
  --ca FILE          sign with this CA (common name = the device id): a certificateAuthority device
  --ca-key FILE      the CA's private key (default: <ca>.key.pem, as create-test-ca writes it)
  --self-signed      a self-signed certificate: register a thumbprint it prints (selfSigned device)
  --out DIR          where to write (default .)
  --days N           validity in days (default 365)
  --force            replace existing files

The device connects with HostName=<host>;DeviceId=<deviceId>;x509=true and
setOptions({ cert, key }) in the official SDKs (see docs/x509.md).`,

  'device import': `Usage: ferry device import <file.jsonl> [--mode MODE] [options]

Registers many devices through the bulk registry API, 100 a call, with a progress bar. Each line
is a Device JSON object ({"deviceId":"d1"}, {"deviceId":"d2","authentication":{...}}) or an
ExportImportDevice ({"id":"d3","importMode":"delete"}); empty lines are skipped. Devices that fail
are listed at the end (exit code 1).
  --mode MODE        importMode for lines without one: create (default), createOrUpdate, update,
                     updateIfMatchETag, delete, deleteIfMatchETag

${TARGET}`,
} as const;
