// stream.js - the one live connection (server-sent events) the views share: packets,
// summaries and alerts, fanned out to subscribers; reconnects on its own.
export class Stream {
  constructor(url) {
    this.subs = new Map();
    this.alertSeq = null;
    this.url = url;
    this.connected = false;
    this.tickMs = 0; // the server's packet tick, from hello
    this.open();
  }

  open() {
    const u = this.alertSeq === null ? this.url : `${this.url}?since=${this.alertSeq}`;
    this.es = new EventSource(u);
    this.es.onopen = () => { this.connected = true; };
    this.es.onerror = () => { this.connected = false; };
    // each message: parsed once, handed to every subscriber, timed (window.darkscope.streamMs)
    const handle = (type, fn) => this.es.addEventListener(type, (e) => {
      const t = performance.now();
      const d = JSON.parse(e.data);
      if (fn) fn(d);
      this.emit(type, d);
      const ds = window.darkscope;
      if (ds) {
        ds.messages++;
        ds.streamMs += performance.now() - t;
      }
    });
    handle('hello', (d) => {
      if (this.alertSeq === null) this.alertSeq = d.alert_seq;
      if (d.tick_ms > 0) this.tickMs = d.tick_ms;
    });
    // packets: one array per server tick (tick_ms in hello), in packet order
    handle('packets');
    handle('summary');
    handle('missed');
    handle('alert');
  }

  on(type, fn) {
    if (!this.subs.has(type)) this.subs.set(type, new Set());
    this.subs.get(type).add(fn);
    return () => this.subs.get(type).delete(fn);
  }

  emit(type, data) {
    for (const fn of this.subs.get(type) || []) fn(data);
    for (const fn of this.subs.get('any') || []) fn(type, data);
  }

  close() {
    if (this.es) this.es.close();
    this.es = null;
    this.subs.clear();
  }
}
