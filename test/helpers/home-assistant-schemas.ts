// Home Assistant's MQTT discovery schemas for the entity kinds facegate announces, written down
// from its documentation and its voluptuous schemas (homeassistant/components/mqtt: schemas.py's
// device, availability and common entity options; sensor.py, event.py, image.py,
// binary_sensor.py): which keys each kind takes, which it requires, and their types. A key that
// is not here is one Home Assistant would drop or refuse.
import { Type, type TSchema } from '@sinclair/typebox';

const topic = Type.String({ minLength: 1, pattern: '^[^#+]*$' }); // a topic to subscribe to, no wildcards here
const template = Type.String({ minLength: 1 });

const Device = Type.Object(
  {
    identifiers: Type.Array(Type.String(), { minItems: 1 }),
    connections: Type.Optional(Type.Array(Type.Tuple([Type.String(), Type.String()]))),
    manufacturer: Type.Optional(Type.String()),
    model: Type.Optional(Type.String()),
    name: Type.Optional(Type.String()),
    hw_version: Type.Optional(Type.String()),
    serial_number: Type.Optional(Type.String()),
    sw_version: Type.Optional(Type.String()),
    via_device: Type.Optional(Type.String()),
    suggested_area: Type.Optional(Type.String()),
    configuration_url: Type.Optional(Type.String()),
  },
  { additionalProperties: false },
);

/** Options every MQTT entity takes (availability, device, the common entity options). */
const common = {
  availability_topic: Type.Optional(topic),
  availability_template: Type.Optional(template),
  payload_available: Type.Optional(Type.String()),
  payload_not_available: Type.Optional(Type.String()),
  availability_mode: Type.Optional(
    Type.Union([Type.Literal('all'), Type.Literal('any'), Type.Literal('latest')]),
  ),
  device: Type.Optional(Device),
  enabled_by_default: Type.Optional(Type.Boolean()),
  entity_category: Type.Optional(Type.Union([Type.Literal('config'), Type.Literal('diagnostic')])),
  entity_picture: Type.Optional(Type.String()),
  icon: Type.Optional(Type.String({ pattern: '^mdi:' })),
  json_attributes_topic: Type.Optional(topic),
  json_attributes_template: Type.Optional(template),
  name: Type.Optional(Type.Union([Type.String(), Type.Null()])),
  object_id: Type.Optional(Type.String()),
  unique_id: Type.Optional(Type.String()),
  qos: Type.Optional(Type.Union([Type.Literal(0), Type.Literal(1), Type.Literal(2)])),
  encoding: Type.Optional(Type.String()),
};

/** Read-only entities: a state topic, and a template that reads it. */
const readOnly = { state_topic: topic, value_template: Type.Optional(template) };

export const HOME_ASSISTANT_SCHEMAS: Record<string, TSchema> = {
  sensor: Type.Object(
    {
      ...common,
      ...readOnly,
      device_class: Type.Optional(Type.String()),
      unit_of_measurement: Type.Optional(Type.String()),
      state_class: Type.Optional(Type.String()),
      expire_after: Type.Optional(Type.Integer({ minimum: 0 })),
      force_update: Type.Optional(Type.Boolean()),
    },
    { additionalProperties: false },
  ),
  event: Type.Object(
    {
      ...common,
      ...readOnly,
      event_types: Type.Array(Type.String(), { minItems: 1 }),
      device_class: Type.Optional(Type.Union(['button', 'doorbell', 'motion'].map((c) => Type.Literal(c)))),
    },
    { additionalProperties: false },
  ),
  image: Type.Object(
    {
      ...common,
      image_topic: topic, // or url_topic; facegate sends the bytes
      content_type: Type.Optional(Type.String()),
      image_encoding: Type.Optional(Type.Literal('b64')),
    },
    { additionalProperties: false },
  ),
  lock: Type.Object(
    {
      ...common,
      command_topic: topic,
      command_template: Type.Optional(template),
      state_topic: Type.Optional(topic),
      value_template: Type.Optional(template),
      code_format: Type.Optional(Type.String()),
      optimistic: Type.Optional(Type.Boolean()),
      retain: Type.Optional(Type.Boolean()),
      payload_lock: Type.Optional(Type.String()),
      payload_unlock: Type.Optional(Type.String()),
      payload_open: Type.Optional(Type.String()),
      payload_reset: Type.Optional(Type.String()),
      state_locked: Type.Optional(Type.String()),
      state_unlocked: Type.Optional(Type.String()),
      state_locking: Type.Optional(Type.String()),
      state_unlocking: Type.Optional(Type.String()),
      state_jammed: Type.Optional(Type.String()),
      state_open: Type.Optional(Type.String()),
      state_opening: Type.Optional(Type.String()),
    },
    { additionalProperties: false },
  ),
  binary_sensor: Type.Object(
    {
      ...common,
      ...readOnly,
      device_class: Type.Optional(Type.String()),
      expire_after: Type.Optional(Type.Integer({ minimum: 1 })),
      off_delay: Type.Optional(Type.Integer({ minimum: 1 })),
      force_update: Type.Optional(Type.Boolean()),
      payload_on: Type.Optional(Type.String()),
      payload_off: Type.Optional(Type.String()),
    },
    { additionalProperties: false },
  ),
};
