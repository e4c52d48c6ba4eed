// Live delivery to apps: the SSE stream, consumer heartbeats and the consumers view.
export { createEventsPlugin, eventsPlugin } from './events-plugin.js';
export type { EventsPluginOptions } from './events-plugin.js';
export type { LiveState, RotationEvent, KeyInfo, ChangeKind } from './event-types.js';
