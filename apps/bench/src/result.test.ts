import Ajv2020 from 'ajv/dist/2020.js'
import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { etcdInfo, failoverRow, raftInfo, redisInfo, result, row } from './fixtures.js'
import { checkResult, jsonSchema } from './result.js'
import { withRatios } from './stats.js'

// Formats (date-time) are checked by the schema's patterns too; ajv needs ajv-formats for the keyword itself.
const schemaFile = JSON.parse(readFileSync(new URL('../result.schema.json', import.meta.url), 'utf8')) as object
const produced = () => result(withRatios([row(raftInfo, { opsPerSecond: 12_000 }), row(etcdInfo, { opsPerSecond: 4_000 }), row(redisInfo, { opsPerSecond: 40_000 }), failoverRow()]))

describe('the --json result', () => {
  it('result.schema.json is the schema the bench checks against (regenerate: pnpm bench --print-json-schema > apps/bench/result.schema.json)', () => {
    expect(schemaFile).toEqual(JSON.parse(JSON.stringify(jsonSchema())))
  })

  it('a produced result is valid under result.schema.json, read by a JSON Schema validator of its own', () => {
    const validate = new Ajv2020({ allErrors: true, validateFormats: false }).compile(schemaFile)
    const r = JSON.parse(JSON.stringify(produced())) as unknown
    expect(validate(r), JSON.stringify(validate.errors)).toBe(true)
    expect(checkResult(r).rows).toHaveLength(4)
  })

  it('is refused with the bad field named, by the bench and by the schema file alike', () => {
    const bad = JSON.parse(JSON.stringify(produced())) as { rows: Array<{ opsPerSecond: unknown }> }
    bad.rows[1]!.opsPerSecond = -5
    expect(() => checkResult(bad)).toThrow(/rows\.1\.opsPerSecond/)
    const validate = new Ajv2020({ validateFormats: false }).compile(schemaFile)
    expect(validate(bad)).toBe(false)
    expect(validate.errors?.[0]?.instancePath).toBe('/rows/1/opsPerSecond')
  })

  it('refuses another schema version and unknown scenarios', () => {
    expect(() => checkResult({ ...produced(), schema: 'kv-bench/0' })).toThrow(/schema/)
    const r = produced()
    expect(() => checkResult({ ...r, rows: [{ ...r.rows[0]!, scenario: 'scan' }] })).toThrow(/rows\.0\.scenario/)
  })
})
