/* The JSON form of a request, as the API serves it and the clients read it. */
#ifndef LOCKBOX_REQUEST_JSON_H
#define LOCKBOX_REQUEST_JSON_H
#include <json-c/json.h>

#include "request.h"

/* A new object with the contract's fields (docs/DESIGN.md, "The request object"): times RFC 3339
 * UTC or null. */
json_object *request_to_json(const struct lockbox_request *req);
/* Fills req from such an object; returns 0, or -1 naming the bad field in err. */
int request_from_json(json_object *obj, struct lockbox_request *req, char *err, size_t err_len);

#endif
