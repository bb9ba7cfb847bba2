"""The Condition element of an IAM policy statement, evaluated the way AWS does.

moto evaluates no condition of an identity policy (it passes every one), so moto_server_arns.py
evaluates, with this module, the conditions of the statements that apply to the calls it
gives a request context to. ``satisfied(condition, context)`` answers whether a statement's
``Condition`` holds for ``context``, a dict from condition key (``aws:ResourceTag/team``,
``aws:TagKeys``, …) to a string or a list of strings; a key absent from ``context`` is absent
from the request.

Supported: the String, Arn and Bool operators, their ``IfExists`` forms, ``Null``, and the
``ForAllValues:`` / ``ForAnyValue:`` set qualifiers. An operator it does not know makes the
condition false (a statement is never granted by a condition this fake cannot read). Condition
key names are compared without regard to case, as AWS does; values with it.
"""
import fnmatch


def _like(value, pattern):
    # IAM wildcards: * and ? only; fnmatch's [] classes must not apply.
    return fnmatch.fnmatchcase(value, pattern.replace("[", "[[]"))


POSITIVE = {
    "StringEquals": lambda value, expected: value == expected,
    "StringEqualsIgnoreCase": lambda value, expected: value.lower() == expected.lower(),
    "StringLike": _like,
    "ArnEquals": lambda value, expected: value == expected,
    "ArnLike": _like,
    "Bool": lambda value, expected: value.lower() == expected.lower(),
}
NEGATED = {"StringNotEquals": "StringEquals", "StringNotEqualsIgnoreCase": "StringEqualsIgnoreCase",
           "StringNotLike": "StringLike", "ArnNotEquals": "ArnEquals", "ArnNotLike": "ArnLike"}


def _lookup(context, key):
    for name, value in context.items():
        if name.lower() == key.lower():
            if value is None:
                return None
            return list(value) if isinstance(value, (list, tuple, set)) else [value]
    return None


def _one(operator, key, expected, context):
    qualifier, _, operator = operator.rpartition(":")
    expected = [str(e) for e in (expected if isinstance(expected, list) else [expected])]
    values = _lookup(context, key)
    if operator == "Null":
        return (values is None or values == []) == (expected[0].lower() == "true")
    if_exists = operator.endswith("IfExists")
    operator = operator.removesuffix("IfExists")
    negated = operator in NEGATED
    compare = POSITIVE.get(NEGATED.get(operator, operator))
    if compare is None:
        return False
    if not values:
        # A missing key: only ForAllValues (vacuously) and IfExists hold; a negated operator
        # on a missing key holds too, as in AWS.
        return qualifier == "ForAllValues" or if_exists or (negated and not qualifier)

    def matches(value):
        hit = any(compare(value, e) for e in expected)
        return not hit if negated else hit

    if qualifier == "ForAllValues":
        return all(matches(v) for v in values)
    if qualifier == "ForAnyValue":
        return any(matches(v) for v in values)
    return matches(values[0])


def satisfied(condition, context):
    """Whether every operator/key test of `condition` holds for `context`."""
    return all(_one(operator, key, expected, context)
               for operator, tests in (condition or {}).items()
               for key, expected in tests.items())
