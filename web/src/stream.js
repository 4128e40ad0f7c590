// stream.js - the one live connection (server-sent events) the views share: packets,
// summaries and alerts, fanned out to subscribers; reconnects on its own.
export class Stream {
  constructor(url) {
    this.subs = new Map();
    this.alertSeq = null;
    this.url = url;
    this.connected = false;
    this.open();
  }

  open() {
    const u = this.alertSeq === null ? this.url : `${this.url}?since=${this.alertSeq}`;
    this.es = new EventSource(u);
    this.es.onopen = () => { this.connected = true; };
    this.es.onerror = () => { this.connected = false; };
    this.es.addEventListener('hello', (e) => {
      const d = JSON.parse(e.data);
      if (this.alertSeq === null) this.alertSeq = d.alert_seq;
      this.emit('hello', d);
    });
    this.es.addEventListener('packets', (e) => this.emit('packets', JSON.parse(e.data)));
    this.es.addEventListener('summary', (e) => this.emit('summary', JSON.parse(e.data)));
    this.es.addEventListener('alert', (e) => this.emit('alert', JSON.parse(e.data)));
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
