// The protobuf messages of the KPL aggregated record format, as the Kinesis Producer Library
// declares them (aggregation-format.md of amazon-kinesis-producer):
//
//   message AggregatedRecord { repeated string partition_key_table = 1;
//                              repeated string explicit_hash_key_table = 2;
//                              repeated Record records = 3; }
//   message Record { required uint64 partition_key_index = 1; optional uint64 explicit_hash_key_index = 2;
//                    required bytes data = 3; repeated Tag tags = 4; }
//   message Tag { required string key = 1; optional string value = 2; }
//
// Varints, lengths, bounds, UTF-8 and unknown fields are left to @bufbuild/protobuf's BinaryReader
// and BinaryWriter: a maintained, conformance-tested runtime with no dependencies of its own, whose
// wire layer needs no generated code or .proto loading for three small messages. The awslabs
// aws-kinesis-agg module is the reference writer, but not a runtime dependency: a callback API over
// CommonJS, a pinned protobufjs 7.2.4 and async 2.6.4, runtime dependencies a codec has no use for
// (agentkeepalive, minimist), size arithmetic in UTF-16 units rather than bytes, and no bounds
// checks on table indexes. The tests check this codec against it in both directions.
import { BinaryReader, BinaryWriter, WireType } from "@bufbuild/protobuf/wire";

export interface TagMessage {
  key: string;
  value: string | undefined;
}

export interface RecordMessage {
  partitionKeyIndex: bigint;
  explicitHashKeyIndex: bigint | undefined;
  data: Uint8Array;
  tags: TagMessage[];
}

export interface AggregatedRecordMessage {
  partitionKeyTable: string[];
  explicitHashKeyTable: string[];
  records: RecordMessage[];
}

// uint64 reads as a string only where BigInt is missing, which Node never is.
const uint64 = (reader: BinaryReader): bigint => BigInt(reader.uint64());

function decodeTag(bytes: Uint8Array): TagMessage {
  const reader = new BinaryReader(bytes);
  let key: string | undefined;
  let value: string | undefined;
  while (reader.pos < reader.len) {
    const [field, wireType] = reader.tag();
    if (field === 1 && wireType === WireType.LengthDelimited) key = reader.string();
    else if (field === 2 && wireType === WireType.LengthDelimited) value = reader.string();
    else reader.skip(wireType, field);
  }
  if (key === undefined) throw new Error("Tag without its required key");
  return { key, value };
}

function decodeRecord(bytes: Uint8Array): RecordMessage {
  const reader = new BinaryReader(bytes);
  let partitionKeyIndex: bigint | undefined;
  let explicitHashKeyIndex: bigint | undefined;
  let data: Uint8Array | undefined;
  const tags: TagMessage[] = [];
  while (reader.pos < reader.len) {
    const [field, wireType] = reader.tag();
    if (field === 1 && wireType === WireType.Varint) partitionKeyIndex = uint64(reader);
    else if (field === 2 && wireType === WireType.Varint) explicitHashKeyIndex = uint64(reader);
    else if (field === 3 && wireType === WireType.LengthDelimited) data = reader.bytes();
    else if (field === 4 && wireType === WireType.LengthDelimited)
      tags.push(decodeTag(reader.bytes()));
    else reader.skip(wireType, field);
  }
  // proto2 parsers (protobuf-java in KCL) reject a message missing a required field.
  if (partitionKeyIndex === undefined) throw new Error("Record without partition_key_index");
  if (data === undefined) throw new Error("Record without data");
  return { partitionKeyIndex, explicitHashKeyIndex, data, tags };
}

/** Decodes an AggregatedRecord body; throws on malformed protobuf or a missing required field. */
export function decodeAggregatedRecord(body: Uint8Array): AggregatedRecordMessage {
  const reader = new BinaryReader(body);
  const message: AggregatedRecordMessage = {
    partitionKeyTable: [],
    explicitHashKeyTable: [],
    records: [],
  };
  while (reader.pos < reader.len) {
    const [field, wireType] = reader.tag();
    if (field === 1 && wireType === WireType.LengthDelimited) {
      message.partitionKeyTable.push(reader.string());
    } else if (field === 2 && wireType === WireType.LengthDelimited) {
      message.explicitHashKeyTable.push(reader.string());
    } else if (field === 3 && wireType === WireType.LengthDelimited) {
      message.records.push(decodeRecord(reader.bytes()));
    } else {
      reader.skip(wireType, field);
    }
  }
  return message;
}

/** Encodes an AggregatedRecord body, fields in field-number order as protobuf-java writes them. */
export function encodeAggregatedRecord(message: AggregatedRecordMessage): Uint8Array {
  const writer = new BinaryWriter();
  for (const key of message.partitionKeyTable) {
    writer.tag(1, WireType.LengthDelimited).string(key);
  }
  for (const key of message.explicitHashKeyTable) {
    writer.tag(2, WireType.LengthDelimited).string(key);
  }
  for (const record of message.records) {
    writer.tag(3, WireType.LengthDelimited).fork();
    writer.tag(1, WireType.Varint).uint64(record.partitionKeyIndex);
    if (record.explicitHashKeyIndex !== undefined) {
      writer.tag(2, WireType.Varint).uint64(record.explicitHashKeyIndex);
    }
    writer.tag(3, WireType.LengthDelimited).bytes(record.data);
    for (const tag of record.tags) {
      writer.tag(4, WireType.LengthDelimited).fork();
      writer.tag(1, WireType.LengthDelimited).string(tag.key);
      if (tag.value !== undefined) writer.tag(2, WireType.LengthDelimited).string(tag.value);
      writer.join();
    }
    writer.join();
  }
  return writer.finish();
}
