/* The per-row callback of one-argument SQLite scalar functions, compiled.
 *
 * sqlite_capi.py registers plug-in functions through SQLite's C API so that a
 * failure's message (the function's name and the reason) reaches SQL. Through
 * ctypes that costs a ctypes callback per row and a ctypes call for each of the
 * argument's type, text and size and for the result (about 1 us a row more than
 * the sqlite3 module's own callbacks). This module is the same callback in C:
 * it reads the argument, calls the plug-in's prepared call with its bytes, sets
 * the result (an INTEGER answer in decimal digits without a Python call), and on
 * any exception fails the row with sqlite3_result_error and the message Python
 * made of it. Optional: without a compiler the ctypes callback is used.
 *
 * SQLite's functions are not linked: bind() receives their addresses, taken by
 * sqlite_capi.py from the very library the sqlite3 module uses (checked there).
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>

typedef struct sqlite3 sqlite3;
typedef struct sqlite3_context sqlite3_context;
typedef struct sqlite3_value sqlite3_value;
typedef void (*destructor_fn)(void *);
typedef void (*xfunc_fn)(sqlite3_context *, int, sqlite3_value **);
typedef void (*xfinal_fn)(sqlite3_context *);

#define SQLITE_INTEGER 1
#define SQLITE_FLOAT 2
#define SQLITE_TEXT 3
#define SQLITE_BLOB 4
#define SQLITE_NULL 5
#define SQLITE_TRANSIENT ((destructor_fn)-1)

/* The SQLite functions used, in the order bind() takes their addresses. */
static struct {
    int (*value_type)(sqlite3_value *);
    int (*value_bytes)(sqlite3_value *);
    const unsigned char *(*value_text)(sqlite3_value *);
    const void *(*value_blob)(sqlite3_value *);
    int64_t (*value_int64)(sqlite3_value *);
    double (*value_double)(sqlite3_value *);
    void (*result_null)(sqlite3_context *);
    void (*result_int64)(sqlite3_context *, int64_t);
    void (*result_double)(sqlite3_context *, double);
    void (*result_text)(sqlite3_context *, const char *, int, destructor_fn);
    void (*result_blob)(sqlite3_context *, const void *, int, destructor_fn);
    void (*result_error)(sqlite3_context *, const char *, int);
    void *(*user_data)(sqlite3_context *);
    int (*create_function_v2)(sqlite3 *, const char *, int, int, void *, xfunc_fn, xfunc_fn, xfinal_fn,
                              destructor_fn);
} api;
static int bound = 0;

#define API_SIZE (sizeof(api) / sizeof(void *))

/* One function: what a row calls. Owned by a capsule that Python keeps as long as
   the connection may call the function. */
typedef struct {
    PyObject *call;   /* bytes -> bytes: the plug-in's prepared call */
    PyObject *decode; /* bytes -> SQL value (None, int, float, str, bytes), or raises */
    PyObject *fail;   /* exception -> str: the SQL error's message */
    int strict;       /* a NULL argument gives NULL without calling */
    int integer;      /* the result type is INTEGER: digits are parsed here */
} function_t;

static const char *CAPSULE = "wasmplug.sql._scalar_callback.function";

static void function_free(PyObject *capsule) {
    function_t *f = PyCapsule_GetPointer(capsule, CAPSULE);
    if (f == NULL) {
        PyErr_Clear();
        return;
    }
    Py_XDECREF(f->call);
    Py_XDECREF(f->decode);
    Py_XDECREF(f->fail);
    PyMem_Free(f);
}

/* The argument as the plug-in's input bytes (docs/sql.md, "Values"). */
static PyObject *argument(sqlite3_value *value, int type) {
    char digits[32];
    switch (type) {
    case SQLITE_TEXT: {
        const unsigned char *text = api.value_text(value); /* before value_bytes: SQLite's order */
        int size = api.value_bytes(value);
        if (text == NULL) /* (empty text is "", not NULL) */
            return PyErr_NoMemory();
        return PyBytes_FromStringAndSize((const char *)text, size);
    }
    case SQLITE_BLOB: {
        const void *blob = api.value_blob(value);
        int size = api.value_bytes(value);
        if (blob == NULL && size > 0) /* (an empty blob is NULL) */
            return PyErr_NoMemory();
        return PyBytes_FromStringAndSize(blob != NULL ? blob : "", blob != NULL ? size : 0);
    }
    case SQLITE_INTEGER:
        snprintf(digits, sizeof digits, "%lld", (long long)api.value_int64(value));
        return PyBytes_FromString(digits);
    case SQLITE_FLOAT: { /* Python's repr: the shortest text that reads back the same */
        char *text = PyOS_double_to_string(api.value_double(value), 'r', 0, Py_DTSF_ADD_DOT_0, NULL);
        if (text == NULL)
            return NULL;
        PyObject *bytes = PyBytes_FromString(text);
        PyMem_Free(text);
        return bytes;
    }
    default:
        return PyBytes_FromStringAndSize("", 0);
    }
}

/* Sets the SQL result from a Python value; -1 with an exception set if it cannot. */
static int set_result(sqlite3_context *ctx, PyObject *value) {
    if (value == Py_None) {
        api.result_null(ctx);
    } else if (PyLong_Check(value)) {
        int overflow = 0;
        long long number = PyLong_AsLongLongAndOverflow(value, &overflow);
        if (overflow) {
            PyErr_SetString(PyExc_OverflowError, "the result does not fit a 64-bit INTEGER");
            return -1;
        }
        if (number == -1 && PyErr_Occurred())
            return -1;
        api.result_int64(ctx, number);
    } else if (PyFloat_Check(value)) {
        api.result_double(ctx, PyFloat_AS_DOUBLE(value));
    } else if (PyUnicode_Check(value)) {
        Py_ssize_t size;
        const char *text = PyUnicode_AsUTF8AndSize(value, &size);
        PyObject *encoded = NULL;
        if (text == NULL) { /* lone surrogates (a JSON string may hold them): as the ctypes path */
            PyErr_Clear();
            encoded = PyUnicode_AsEncodedString(value, "utf-8", "surrogatepass");
            if (encoded == NULL)
                return -1;
            text = PyBytes_AS_STRING(encoded);
            size = PyBytes_GET_SIZE(encoded);
        }
        if (size > INT_MAX) {
            Py_XDECREF(encoded);
            PyErr_SetString(PyExc_OverflowError, "the result is too long for SQLite");
            return -1;
        }
        api.result_text(ctx, text, (int)size, SQLITE_TRANSIENT);
        Py_XDECREF(encoded);
    } else if (PyBytes_Check(value)) {
        if (PyBytes_GET_SIZE(value) > INT_MAX) {
            PyErr_SetString(PyExc_OverflowError, "the result is too long for SQLite");
            return -1;
        }
        api.result_blob(ctx, PyBytes_AS_STRING(value), (int)PyBytes_GET_SIZE(value), SQLITE_TRANSIENT);
    } else {
        PyErr_Format(PyExc_TypeError, "a SQL function cannot return %.80s", Py_TYPE(value)->tp_name);
        return -1;
    }
    return 0;
}

/* The raised exception as the row's SQL error, with the message `fail` makes of it. */
static void set_error(sqlite3_context *ctx, function_t *f) {
    PyObject *type, *value, *traceback;
    PyErr_Fetch(&type, &value, &traceback);
    PyErr_NormalizeException(&type, &value, &traceback);
    PyObject *message = PyObject_CallOneArg(f->fail, value != NULL ? value : Py_None);
    Py_XDECREF(type);
    Py_XDECREF(value);
    Py_XDECREF(traceback);
    Py_ssize_t size = 0;
    const char *text = NULL;
    if (message != NULL && PyUnicode_Check(message))
        text = PyUnicode_AsUTF8AndSize(message, &size);
    if (text != NULL && size <= INT_MAX) {
        api.result_error(ctx, text, (int)size);
    } else {
        PyErr_Clear();
        api.result_error(ctx, "wasmplug: the function failed (and its message could not be made)", -1);
    }
    Py_XDECREF(message);
}

static void row(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
    function_t *f = api.user_data(ctx);
    sqlite3_value *value = argv[0];
    int type = api.value_type(value);
    if (type == SQLITE_NULL && f->strict) {
        api.result_null(ctx); /* without the GIL */
        return;
    }
    PyGILState_STATE gil = PyGILState_Ensure();
    PyObject *data = argument(value, type);
    PyObject *output = data != NULL ? PyObject_CallOneArg(f->call, data) : NULL;
    Py_XDECREF(data);
    if (output == NULL) {
        set_error(ctx, f);
        PyGILState_Release(gil);
        return;
    }
    if (f->integer && PyBytes_CheckExact(output)) { /* the usual INTEGER answer: 1 to 18 digits */
        Py_ssize_t size = PyBytes_GET_SIZE(output);
        const char *digits = PyBytes_AS_STRING(output);
        int64_t number = 0;
        Py_ssize_t i = 0;
        if (size > 0 && size < 19) {
            while (i < size && digits[i] >= '0' && digits[i] <= '9')
                number = number * 10 + (digits[i++] - '0');
        }
        if (size > 0 && i == size) {
            Py_DECREF(output);
            api.result_int64(ctx, number);
            PyGILState_Release(gil);
            return;
        }
    }
    PyObject *result = PyObject_CallOneArg(f->decode, output);
    Py_DECREF(output);
    if (result == NULL || set_result(ctx, result) < 0)
        set_error(ctx, f);
    Py_XDECREF(result);
    PyGILState_Release(gil);
}

static PyObject *bind(PyObject *module, PyObject *addresses) {
    if (!PyTuple_Check(addresses) || PyTuple_GET_SIZE(addresses) != (Py_ssize_t)API_SIZE) {
        PyErr_Format(PyExc_ValueError, "bind() takes a tuple of %d function addresses", (int)API_SIZE);
        return NULL;
    }
    void *pointers[API_SIZE];
    for (Py_ssize_t i = 0; i < (Py_ssize_t)API_SIZE; i++) {
        pointers[i] = PyLong_AsVoidPtr(PyTuple_GET_ITEM(addresses, i));
        if (pointers[i] == NULL) {
            if (!PyErr_Occurred())
                PyErr_Format(PyExc_ValueError, "function address %d is NULL", (int)i);
            return NULL;
        }
    }
    memcpy(&api, pointers, sizeof(api));
    bound = 1;
    Py_RETURN_NONE;
}

/* create(db, name, flags, call, decode, fail, strict, integer) -> (rc, capsule) */
static PyObject *create(PyObject *module, PyObject *args) {
    PyObject *db_address, *call, *decode, *fail;
    const char *name;
    int flags, strict, integer;
    if (!PyArg_ParseTuple(args, "OyiOOOpp", &db_address, &name, &flags, &call, &decode, &fail, &strict,
                          &integer))
        return NULL;
    if (!bound) {
        PyErr_SetString(PyExc_RuntimeError, "bind() SQLite's functions first");
        return NULL;
    }
    sqlite3 *db = PyLong_AsVoidPtr(db_address);
    if (db == NULL) {
        if (!PyErr_Occurred())
            PyErr_SetString(PyExc_ValueError, "the connection's handle is NULL");
        return NULL;
    }
    if (!PyCallable_Check(call) || !PyCallable_Check(decode) || !PyCallable_Check(fail)) {
        PyErr_SetString(PyExc_TypeError, "call, decode and fail must be callable");
        return NULL;
    }
    function_t *f = PyMem_Calloc(1, sizeof(function_t));
    if (f == NULL)
        return PyErr_NoMemory();
    Py_INCREF(call);
    Py_INCREF(decode);
    Py_INCREF(fail);
    f->call = call;
    f->decode = decode;
    f->fail = fail;
    f->strict = strict;
    f->integer = integer;
    PyObject *capsule = PyCapsule_New(f, CAPSULE, function_free);
    if (capsule == NULL) {
        Py_DECREF(call);
        Py_DECREF(decode);
        Py_DECREF(fail);
        PyMem_Free(f);
        return NULL;
    }
    int rc = api.create_function_v2(db, name, 1, flags, f, row, NULL, NULL, NULL);
    return Py_BuildValue("(iN)", rc, capsule);
}

static PyMethodDef methods[] = {
    {"bind", bind, METH_O, "bind(addresses): the SQLite functions' addresses (sqlite_capi.py's order)."},
    {"create", create, METH_VARARGS,
     "create(db, name, flags, call, decode, fail, strict, integer) -> (rc, capsule): a one-argument "
     "scalar on the sqlite3* `db`; keep the capsule alive as long as the connection may call it."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "wasmplug.sql._scalar_callback",
    "The per-row callback of one-argument SQLite scalar functions, compiled (see sqlite_capi.py).", -1,
    methods, NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__scalar_callback(void) { return PyModule_Create(&module); }
