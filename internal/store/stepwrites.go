package store

// stepWrites are the enrolment moves and journey messages of a batch of
// due steps on PostgreSQL, where each statement is a network round trip:
// they are sent as two statements over arrays (unnest) instead of two per
// step. They are flushed before the transaction reads the tables they
// touch (flushSteps), and at the end of the batch. SQLite, in process,
// writes each row at once.
type stepWrites struct {
	// moves are enrolments that keep their status: id, step, due_at
	// (nil: none), state, reason (nil: none), updated_at.
	moves struct {
		id, updated []int64
		due         []*int64
		step, state []string
		reason      []*string
	}
	// outbox are messages with insertMessage's columns.
	outbox struct {
		contact, due, created, updated []int64
		version                        []int64
		channel, kind, status          []string
		template, source               []string
		list, topic, sender, key       []*string
	}
	n, m int // moves, messages
}

func strPtr(v any) *string {
	if s, ok := v.(string); ok {
		return &s
	}
	return nil
}

// batchSteps starts batching (PostgreSQL only); the caller must flush.
func (t *tx) batchSteps() {
	if t.s.d.name == "postgres" {
		t.steps = &stepWrites{}
	}
}

// moveLater notes an enrolment's move that keeps its status; false when
// not batching (the caller writes it).
func (t *tx) moveLater(id int64, step string, due any, state string, reason any, now int64) bool {
	w := t.steps
	if w == nil {
		return false
	}
	var d *int64
	if v, ok := due.(int64); ok {
		d = &v
	}
	m := &w.moves
	m.id, m.step, m.due, m.state, m.reason, m.updated = append(m.id, id), append(m.step, step), append(m.due, d),
		append(m.state, state), append(m.reason, strPtr(reason)), append(m.updated, now)
	w.n++
	return true
}

// queueLater notes a message (messageArgs' values); false when not batching.
func (t *tx) queueLater(a []any) bool {
	w := t.steps
	if w == nil {
		return false
	}
	o := &w.outbox
	o.contact, o.due, o.created, o.updated = append(o.contact, a[0].(int64)), append(o.due, a[1].(int64)),
		append(o.created, a[2].(int64)), append(o.updated, a[3].(int64))
	o.version = append(o.version, int64(a[4].(int)))
	o.channel, o.kind, o.status = append(o.channel, a[5].(string)), append(o.kind, a[6].(string)), append(o.status, a[7].(string))
	o.template, o.source = append(o.template, a[8].(string)), append(o.source, a[9].(string))
	o.list, o.topic, o.sender, o.key = append(o.list, strPtr(a[10])), append(o.topic, strPtr(a[11])),
		append(o.sender, strPtr(a[12])), append(o.key, strPtr(a[13]))
	w.m++
	return true
}

// flushSteps writes what is batched, and goes on batching.
func (t *tx) flushSteps() error {
	w := t.steps
	if w == nil || w.n+w.m == 0 {
		return nil
	}
	if w.n > 0 {
		m := &w.moves
		if _, err := t.exec(`UPDATE enrolments e SET step = v.step, due_at = v.due_at, state = v.state, reason = v.reason,
			updated_at = v.updated_at
			FROM unnest(?::bigint[], ?::text[], ?::bigint[], ?::text[], ?::text[], ?::bigint[]) AS v(id, step, due_at, state, reason, updated_at)
			WHERE e.id = v.id`, m.id, m.step, m.due, m.state, m.reason, m.updated); err != nil {
			return err
		}
	}
	if w.m > 0 {
		o := &w.outbox
		if _, err := t.exec(`INSERT INTO outbox (contact_id, due_at, created_at, updated_at, template_version, channel, kind,
			status, template, source, list, topic, sender, idempotency_key)
			SELECT * FROM unnest(?::bigint[], ?::bigint[], ?::bigint[], ?::bigint[], ?::bigint[], ?::text[], ?::text[],
				?::text[], ?::text[], ?::text[], ?::text[], ?::text[], ?::text[], ?::text[])
			ON CONFLICT (idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING`,
			o.contact, o.due, o.created, o.updated, o.version, o.channel, o.kind, o.status, o.template, o.source,
			o.list, o.topic, o.sender, o.key); err != nil {
			return err
		}
	}
	*w = stepWrites{}
	return nil
}
