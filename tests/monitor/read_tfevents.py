"""An independent reader of TensorBoard event files, for the tests.

Nothing here comes from c2am: the TFRecord framing is decoded by hand, both
checksums are recomputed with a pure-Python CRC-32C, and the Event messages
are parsed by python3-protobuf from descriptors declared below with the field
numbers of TensorBoard's event.proto / summary.proto / tensor.proto.

load(dir) applies TensorBoard's rule for restarted runs: a SessionLog START at
step S drops every point already read (any tag) at step >= S.
"""
import glob
import os
import struct

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

_F = descriptor_pb2.FieldDescriptorProto


def _crc_table():
    table = []
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
        table.append(c)
    return table


_TABLE = _crc_table()


def crc32c(data):
    c = 0xFFFFFFFF
    for b in data:
        c = _TABLE[(c ^ b) & 0xFF] ^ (c >> 8)
    return c ^ 0xFFFFFFFF


def masked_crc32c(data):
    c = crc32c(data)
    return (((c >> 15) | (c << 17)) + 0xA282EAD8) & 0xFFFFFFFF


def _messages():
    f = descriptor_pb2.FileDescriptorProto(name="tfevents_reader.proto", package="reader", syntax="proto3")

    def message(name, fields, parent=None):
        m = (parent.nested_type if parent else f.message_type).add(name=name)
        for fname, number, ftype, *rest in fields:
            fd = m.field.add(name=fname, number=number, type=ftype,
                             label=_F.LABEL_REPEATED if "repeated" in rest else _F.LABEL_OPTIONAL)
            type_name = [r for r in rest if r != "repeated"]
            if type_name:
                fd.type_name = type_name[0]
        return m

    message("Event", [("wall_time", 1, _F.TYPE_DOUBLE), ("step", 2, _F.TYPE_INT64),
                      ("file_version", 3, _F.TYPE_STRING), ("summary", 5, _F.TYPE_MESSAGE, ".reader.Summary"),
                      ("session_log", 7, _F.TYPE_MESSAGE, ".reader.SessionLog")])
    message("SessionLog", [("status", 1, _F.TYPE_INT32), ("checkpoint_path", 2, _F.TYPE_STRING),
                           ("msg", 3, _F.TYPE_STRING)])
    summary = message("Summary", [("value", 1, _F.TYPE_MESSAGE, "repeated", ".reader.Summary.Value")])
    message("Image", [("height", 1, _F.TYPE_INT32), ("width", 2, _F.TYPE_INT32), ("colorspace", 3, _F.TYPE_INT32),
                      ("encoded_image_string", 4, _F.TYPE_BYTES)], summary)
    message("Value", [("tag", 1, _F.TYPE_STRING), ("simple_value", 2, _F.TYPE_FLOAT),
                      ("image", 4, _F.TYPE_MESSAGE, ".reader.Summary.Image"),
                      ("tensor", 8, _F.TYPE_MESSAGE, ".reader.TensorProto"),
                      ("metadata", 9, _F.TYPE_MESSAGE, ".reader.SummaryMetadata")], summary)
    meta = message("SummaryMetadata", [("plugin_data", 1, _F.TYPE_MESSAGE, ".reader.SummaryMetadata.PluginData")])
    message("PluginData", [("plugin_name", 1, _F.TYPE_STRING), ("content", 2, _F.TYPE_BYTES)], meta)
    message("TensorProto", [("dtype", 1, _F.TYPE_INT32),
                            ("tensor_shape", 2, _F.TYPE_MESSAGE, ".reader.TensorShapeProto"),
                            ("string_val", 8, _F.TYPE_BYTES, "repeated")])
    shape = message("TensorShapeProto", [("dim", 2, _F.TYPE_MESSAGE, "repeated", ".reader.TensorShapeProto.Dim")])
    message("Dim", [("size", 1, _F.TYPE_INT64), ("name", 2, _F.TYPE_STRING)], shape)
    pool = descriptor_pool.DescriptorPool()
    pool.Add(f)
    desc = pool.FindMessageTypeByName("reader.Event")
    if hasattr(message_factory, "GetMessageClass"):
        return message_factory.GetMessageClass(desc)
    return message_factory.MessageFactory(pool).GetPrototype(desc)


Event = _messages()


def records(path):
    """The records of one file; raises on a bad checksum or a torn record."""
    data = open(path, "rb").read()
    at = 0
    while at < len(data):
        if at + 12 > len(data):
            raise ValueError(f"{path}: torn header at byte {at}")
        header = data[at:at + 8]
        (length,) = struct.unpack("<Q", header)
        (length_crc,) = struct.unpack("<I", data[at + 8:at + 12])
        if length_crc != masked_crc32c(header):
            raise ValueError(f"{path}: bad length checksum at byte {at}")
        body = data[at + 12:at + 12 + length]
        footer = data[at + 12 + length:at + 16 + length]
        if len(body) < length or len(footer) < 4:
            raise ValueError(f"{path}: torn record at byte {at}")
        if struct.unpack("<I", footer)[0] != masked_crc32c(body):
            raise ValueError(f"{path}: bad data checksum at byte {at}")
        yield body
        at += 16 + length


def event_files(logdir):
    return sorted(p for p in glob.glob(os.path.join(logdir, "*")) if "tfevents" in os.path.basename(p))


def events(logdir):
    """(file, Event) for every record of every event file, in TensorBoard's order (by file name)."""
    for path in event_files(logdir):
        for body in records(path):
            e = Event()
            e.ParseFromString(body)
            yield path, e


def load(logdir):
    """{tag: [(step, kind, value)]} after TensorBoard's restart purge; kind: scalar | image | text."""
    out = {}
    for _, e in events(logdir):
        if e.HasField("session_log") and e.session_log.status == 1:  # START
            for tag in out:
                out[tag] = [p for p in out[tag] if p[0] < e.step]
        if not e.HasField("summary"):
            continue
        for v in e.summary.value:
            if v.HasField("image"):
                point = (e.step, "image", v.image)
            elif v.HasField("tensor"):
                point = (e.step, "text:" + v.metadata.plugin_data.plugin_name,
                         b"".join(v.tensor.string_val).decode())
            else:
                point = (e.step, "scalar", v.simple_value)
            out.setdefault(v.tag, []).append(point)
    return out
