// Incremental text/event-stream parser (WHATWG rules) for a fetch() response body.

export class SSEParser {
  constructor(onEvent, onComment = () => {}) {
    this.onEvent = onEvent;
    this.onComment = onComment;
    this.buffer = "";
    this.data = [];
    this.event = "";
    this.lastEventId = "";
  }

  feed(chunk) {
    this.buffer += chunk;
    const lineEnd = /\r\n|\r|\n/g;
    let start = 0;
    let match;
    while ((match = lineEnd.exec(this.buffer))) {
      // A lone CR at the end of the buffer may be the first half of CRLF: wait for the next chunk.
      if (match[0] === "\r" && match.index === this.buffer.length - 1) break;
      this.line(this.buffer.slice(start, match.index));
      start = lineEnd.lastIndex;
    }
    this.buffer = this.buffer.slice(start);
  }

  line(line) {
    if (line === "") return this.dispatch();
    if (line.startsWith(":")) return this.onComment(line.slice(1).trim());
    const colon = line.indexOf(":");
    const field = colon === -1 ? line : line.slice(0, colon);
    let value = colon === -1 ? "" : line.slice(colon + 1);
    if (value.startsWith(" ")) value = value.slice(1);
    if (field === "data") this.data.push(value);
    else if (field === "event") this.event = value;
    else if (field === "id" && !value.includes("\0")) this.lastEventId = value;
    return undefined;
  }

  dispatch() {
    const event = this.event || "message";
    this.event = "";
    if (this.data.length === 0) return;
    const data = this.data.join("\n");
    this.data = [];
    this.onEvent({ id: this.lastEventId, event, data });
  }
}

// Read an SSE response body to its end, calling onEvent per event (an unterminated last event is dropped,
// as the spec says); resolves with the last event id when the stream closes.
export async function readEventStream(response, onEvent, onComment) {
  const parser = new SSEParser(onEvent, onComment);
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    parser.feed(value);
  }
  return parser.lastEventId;
}
