// GrafanaJson<T>: the type T as a JSON file can spell it. @grafana/schema types some fields with
// TypeScript string enums (ThresholdsMode, FieldColorModeId, MappingType, ...), to which a string
// literal such as "absolute" is not assignable; JSON has no other way to write them. This maps
// every string enum to the union of its values (`${E}`) and leaves everything else as it is, so
// `satisfies GrafanaJson<Dashboard>` still rejects unknown keys, wrong types and values that are
// not members of the enum.
export type GrafanaJson<T> =
  T extends string ? (string extends T ? T : `${T}`)
  : T extends number | boolean | null | undefined ? T
  : T extends ReadonlyArray<infer U> ? Array<GrafanaJson<U>>
  : T extends object ? { [K in keyof T]: GrafanaJson<T[K]> }
  : T;
