"""Qpid Proton (Debian's python3-qpid-proton) as a raw AMQP client of a Ferry hub, as Proton-based
stacks attach: a sender and a receiver on $cbs that share one link name, a put-token, and then a
link the token authorizes. Prints one JSON line with what the hub answered.

usage: proton-cbs.py HOST CA_FILE TOKEN AUDIENCE DEVICE_ID
"""
import json
import sys

from proton import Message, SSLDomain
from proton.utils import BlockingConnection

host, ca_file, token, audience, device_id = sys.argv[1:6]
ssl = SSLDomain(SSLDomain.MODE_CLIENT)
ssl.set_trusted_ca_db(ca_file)
# The hub's certificate names the loopback address; check the chain, not the name.
ssl.set_peer_authentication(SSLDomain.VERIFY_PEER)
conn = BlockingConnection(
    f"amqps://{host}:5671", ssl_domain=ssl, allowed_mechs="ANONYMOUS", timeout=10
)
requests = conn.create_sender("$cbs", name="cbs")
replies = conn.create_receiver("$cbs", name="cbs", credit=1)
requests.send(
    Message(
        id="put-1",
        reply_to="cbs",
        body=token,
        properties={
            "operation": "put-token",
            "type": "servicebus.windows.net:sastoken",
            "name": audience,
        },
    )
)
reply = replies.receive(timeout=10)
replies.accept()
# A link only the token authorizes: the device's C2D queue.
c2d = conn.create_receiver(f"/devices/{device_id}/messages/devicebound", credit=0)
print(
    json.dumps(
        {
            "status": reply.properties.get("status-code"),
            "correlationId": str(reply.correlation_id),
            "c2dSource": c2d.link.remote_source.address,
        }
    )
)
conn.close()
