package spconfigtest

// message is one entry of an import result's infos, warnings or errors.
type message struct {
	Key     string         `json:"key"`
	Text    string         `json:"text"`
	Details map[string]any `json:"details"`
}

// newMessage returns a result message; key "" is a message without a key and
// detail nil one without details.
func newMessage(key, text string, detail map[string]any) message {
	if detail == nil {
		detail = map[string]any{}
	}
	return message{Key: key, Text: text, Details: detail}
}

// refDetail is the detail of a message about one object or reference.
func refDetail(typ, id, name string) map[string]any {
	return map[string]any{"reference": map[string]any{"type": typ, "id": id, "name": name}}
}
