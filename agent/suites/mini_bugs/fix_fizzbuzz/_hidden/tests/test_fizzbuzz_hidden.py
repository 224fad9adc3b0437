"""Held-out cases (never in a workspace): fizzbuzz's contract."""

from fizzbuzz import fizzbuzz


def test_first_fifteen():
    want = ["1", "2", "Fizz", "4", "Buzz", "Fizz", "7", "8", "Fizz", "Buzz", "11", "Fizz", "13", "14", "FizzBuzz"]
    assert [fizzbuzz(i) for i in range(1, 16)] == want


def test_larger_multiples():
    assert fizzbuzz(30) == "FizzBuzz"
    assert fizzbuzz(99) == "Fizz"
    assert fizzbuzz(100) == "Buzz"
    assert fizzbuzz(101) == "101"
