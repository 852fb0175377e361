/**
 * A fix to rhea 3.0.5 installed with the others (rhea-patches.ts), on rhea's Session internals.
 *
 * Link names. AMQP 1.0 (2.6.1) makes a link's name unique per direction: a sender and a receiver
 * may share one, and Qpid Proton names its `$cbs` sender and receiver alike. rhea keeps a
 * session's links by name alone, so the second attach found the first link and threw "Attach
 * already received", and the connection dropped without a close frame (issue 23). Here a session
 * keeps its links by role and name. A second attach of one name in one direction while the first
 * is attached is an AmqpInvalidFieldError: the connection is closed with `amqp:invalid-field`.
 */
import { createRequire } from 'node:module';
import { AmqpInvalidFieldError } from './frame-errors.js';

const require = createRequire(import.meta.url);

interface RheaLink {
  name: string;
  is_sender(): boolean;
  local: { handle: number };
  remote: { handle: number | undefined; attach?: unknown };
  on_attach(frame: AttachFrame): void;
}

interface AttachFrame {
  performative: { name: string; handle: number; role: boolean };
}

interface RheaSession {
  links: Record<string, RheaLink>;
  local: { handles: Record<number, RheaLink | undefined> };
  remote: { handles: Record<number, RheaLink | undefined> };
  create_sender(name: string): RheaLink;
  create_receiver(name: string): RheaLink;
}

type LinkConstructor = new (session: RheaSession, name: string, handle: number, opts: unknown) => RheaLink;

/** Where a session keeps a link: by our role and its name. */
function linkKey(weSend: boolean, name: string): string {
  return `${weSend ? 'sender' : 'receiver'}:${name}`;
}

export function patchLinkNames(): void {
  const Session = require('rhea/lib/session.js') as { prototype: Record<string, unknown> };
  const { Sender } = require('rhea/lib/link.js') as { Sender: LinkConstructor };
  const proto = Session.prototype;
  for (const name of ['create_link', 'on_attach', 'remove_link', 'create_sender', 'create_receiver']) {
    if (typeof proto[name] !== 'function') {
      throw new Error(`rhea internals changed: Session has no ${name} (review rhea-link-names.ts)`);
    }
  }
  proto.create_link = function (this: RheaSession, name: string, Link: LinkConstructor, opts: unknown) {
    let i = 0;
    while (this.local.handles[i]) i++;
    const link = new Link(this, name, i, opts);
    this.links[linkKey(Link === Sender, name)] = link;
    this.local.handles[i] = link;
    return link;
  };
  proto.on_attach = function (this: RheaSession, frame: AttachFrame) {
    const { name, handle, role } = frame.performative;
    // role true: the peer is the receiver, so this end sends.
    let link = this.links[linkKey(role === true, name)];
    if (link?.remote.attach !== undefined) {
      throw new AmqpInvalidFieldError(`A link named "${String(name).slice(0, 100)}" is already attached that way`);
    }
    link ??= role ? this.create_sender(name) : this.create_receiver(name);
    this.remote.handles[handle] = link;
    link.on_attach(frame);
    link.remote.attach = frame.performative;
  };
  proto.remove_link = function (this: RheaSession, link: RheaLink) {
    if (link.remote.handle !== undefined) delete this.remote.handles[link.remote.handle];
    delete this.local.handles[link.local.handle];
    delete this.links[linkKey(link.is_sender(), link.name)];
  };
}
