package spconfigtest

// message is one entry of an import result's infos, warnings or errors, in
// the shape real tenants send rather than the schema's {key, text, details}:
// "key" is null when the service has none, and the details are under
// "detail" (singular), null when there are none (SailPoint's published
// bodies; DESIGN section 1). Promoter's parser reads both shapes.
type message struct {
	Key    *string        `json:"key"`
	Text   string         `json:"text"`
	Detail map[string]any `json:"detail"`
}

// newMessage returns a result message; key "" is sent as null and detail nil
// as null.
func newMessage(key, text string, detail map[string]any) message {
	m := message{Text: text, Detail: detail}
	if key != "" {
		m.Key = &key
	}
	return m
}

// refDetail is the detail of a message about one object or reference.
func refDetail(typ, id, name string) map[string]any {
	return map[string]any{"reference": map[string]any{"type": typ, "id": id, "name": name}}
}
