package cluster

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
)

// Client is a small client of the HTTP API v1, for tests, tools and
// benchmarks. Keys, index keys and values are strings (text; bytes that
// are not UTF-8 travel as *_b64 and are decoded). It is safe for
// concurrent use.
type Client struct {
	HTTP *http.Client // nil: http.DefaultClient
}

// Response is a decoded answer of the API. Code is the HTTP status.
type Response struct {
	Code    int    `json:"-"`
	Version uint64 `json:"version"`
	Error   string `json:"error"`
	Owner   string `json:"-"`
	Key     string `json:"-"`
	Index   string `json:"-"`
	Value   string `json:"-"`
	Raw     []byte `json:"-"` // the body as received
}

// Op is one operation of a transaction (Client.Txn).
type Op struct {
	Op    string `json:"op"` // "put" or "delete"
	Key   string `json:"key"`
	Index string `json:"index,omitempty"`
	Value string `json:"value,omitempty"`
}

func (c *Client) http() *http.Client {
	if c.HTTP != nil {
		return c.HTTP
	}
	return http.DefaultClient
}

// Do sends a request to node addr (HOST:PORT) and decodes the answer. An
// error is returned only when no HTTP answer arrived.
func (c *Client) Do(ctx context.Context, method, addr, path string, body any) (Response, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return Response{}, err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, "http://"+addr+path, rd)
	if err != nil {
		return Response{}, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.http().Do(req)
	if err != nil {
		return Response{}, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return Response{}, fmt.Errorf("reading the answer of %s %s: %w", method, path, err)
	}
	r := Response{Code: resp.StatusCode, Raw: raw}
	var m map[string]any
	if json.Unmarshal(raw, &m) == nil {
		_ = json.Unmarshal(raw, &r) // version and error, when present
		r.Owner, r.Key, r.Index, r.Value = field(m, "owner"), field(m, "key"), field(m, "index"), field(m, "value")
	}
	return r, nil
}

func field(m map[string]any, name string) string {
	if s, ok := m[name].(string); ok {
		return s
	}
	if s, ok := m[name+"_b64"].(string); ok {
		if b, err := base64.StdEncoding.DecodeString(s); err == nil {
			return string(b)
		}
	}
	return ""
}

// Put stores key with index and value: PUT /v1/kv/{key}.
func (c *Client) Put(ctx context.Context, addr, key, index, value string) (Response, error) {
	return c.Do(ctx, http.MethodPut, addr, "/v1/kv/"+url.PathEscape(key), map[string]string{"index": index, "value": value})
}

// Delete removes key: DELETE /v1/kv/{key}.
func (c *Client) Delete(ctx context.Context, addr, key string) (Response, error) {
	return c.Do(ctx, http.MethodDelete, addr, "/v1/kv/"+url.PathEscape(key), nil)
}

// Get reads key with consistency "linearizable" or "stale".
func (c *Client) Get(ctx context.Context, addr, key, consistency string) (Response, error) {
	return c.Do(ctx, http.MethodGet, addr, "/v1/kv/"+url.PathEscape(key)+"?consistency="+consistency, nil)
}

// GetByIndex reads the record of index key index.
func (c *Client) GetByIndex(ctx context.Context, addr, index, consistency string) (Response, error) {
	return c.Do(ctx, http.MethodGet, addr, "/v1/index/"+url.PathEscape(index)+"?consistency="+consistency, nil)
}

// Txn applies ops atomically: POST /v1/txn.
func (c *Client) Txn(ctx context.Context, addr string, ops []Op) (Response, error) {
	return c.Do(ctx, http.MethodPost, addr, "/v1/txn", map[string]any{"ops": ops})
}

// Status returns GET /v1/status of node addr.
func (c *Client) Status(ctx context.Context, addr string) (Status, error) {
	r, err := c.Do(ctx, http.MethodGet, addr, "/v1/status", nil)
	if err != nil {
		return Status{}, err
	}
	if r.Code != http.StatusOK {
		return Status{}, fmt.Errorf("status of %s: HTTP %d: %s", addr, r.Code, bytes.TrimSpace(r.Raw))
	}
	var st Status
	if err := json.Unmarshal(r.Raw, &st); err != nil {
		return Status{}, fmt.Errorf("status of %s: %w", addr, err)
	}
	return st, nil
}
